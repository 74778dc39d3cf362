// A call with the hub's conversation service over the WebSocket bridge: microphone audio
// (16 kHz PCM16LE, 20 ms chunks, from an AudioWorklet) or typed text in; speech detection,
// transcripts, replies and the spoken reply (played back) out.
import { create } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import {
  AudioEncoding,
  type ConverseRequest,
  ConverseRequestSchema,
  ConversationService,
} from "../../../../gen/ts/realtime/v1/conversation_pb.js";
import { Outbox } from "../outbox.js";
import { $, describeError, el } from "./dom.js";

const RATE = 16_000;
const CHUNK = RATE / 50; // 20 ms

function pcm16(samples: Float32Array): Uint8Array {
  const out = new DataView(new ArrayBuffer(samples.length * 2));
  samples.forEach((s, i) => out.setInt16(i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return new Uint8Array(out.buffer);
}

export function setupConversation(transport: () => Transport, who: string, signal: AbortSignal): void {
  const client = createClient(ConversationService, transport());
  const call = $("call-start") as HTMLButtonElement;
  const hang = $("call-end") as HTMLButtonElement;
  const say = $("call-say") as HTMLFormElement;
  const sayInput = $("call-text") as HTMLInputElement;
  const sayButton = say.querySelector("button[type=submit]") as HTMLButtonElement;
  const hint = $("call-hint");
  const log = $("call-log");
  const status = $("call-status");
  let out: Outbox<ConverseRequest> | null = null;
  let audio: AudioContext | null = null;
  let mic: MediaStream | null = null;
  let cmd = 0;
  let playAt = 0;

  const send = (command: ConverseRequest["command"]) => {
    out?.push(create(ConverseRequestSchema, { id: `v${++cmd}`, command }));
  };
  const line = (who: string, text: string) => {
    log.append(el("li", {}, el("span", { className: "title", text: who }), el("span", { text })));
    log.scrollTop = log.scrollHeight;
  };
  // Typed lines go on the call's stream: they can be sent only while a call is open.
  const canSay = (open: boolean, why: string) => {
    sayInput.disabled = !open;
    sayButton.disabled = !open;
    hint.textContent = open ? "" : why;
  };
  canSay(false, "Start a call to send typed lines.");
  const stop = () => {
    send({ case: "end", value: {} } as ConverseRequest["command"]);
    out?.close();
    out = null;
    mic?.getTracks().forEach((t) => t.stop());
    mic = null;
    void audio?.close();
    audio = null;
    call.disabled = false;
    hang.disabled = true;
    canSay(false, "The call has ended: start a call to send typed lines.");
  };
  signal.addEventListener("abort", stop, { once: true });
  hang.onclick = () => {
    stop();
    status.textContent = "call ended";
  };

  const play = (data: Uint8Array) => {
    if (!audio || data.length < 2) return;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const buf = audio.createBuffer(1, data.length >> 1, RATE);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < ch.length; i++) ch[i] = view.getInt16(i * 2, true) / 0x8000;
    const src = audio.createBufferSource();
    src.buffer = buf;
    src.connect(audio.destination);
    playAt = Math.max(playAt, audio.currentTime);
    src.start(playAt);
    playAt += buf.duration;
  };

  async function startMic(): Promise<void> {
    audio = new AudioContext({ sampleRate: RATE });
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    } catch (err) {
      status.textContent = `no microphone (${String(err)}); type instead`;
      return;
    }
    await audio.audioWorklet.addModule("/assets/mic-worklet.js");
    const node = new AudioWorkletNode(audio, "mic-capture");
    audio.createMediaStreamSource(mic).connect(node);
    let pending = new Float32Array(0);
    let sequence = 0n;
    node.port.onmessage = (ev: MessageEvent<Float32Array>) => {
      const joined = new Float32Array(pending.length + ev.data.length);
      joined.set(pending);
      joined.set(ev.data, pending.length);
      let offset = 0;
      for (; offset + CHUNK <= joined.length; offset += CHUNK) {
        send({ case: "audio", value: { sequence: ++sequence, data: pcm16(joined.subarray(offset, offset + CHUNK)) } } as ConverseRequest["command"]);
      }
      pending = joined.slice(offset);
    };
    if (out) status.textContent = "listening: speak, or type below";
  }

  call.onclick = async () => {
    call.disabled = true;
    hang.disabled = false;
    log.replaceChildren();
    out = new Outbox<ConverseRequest>(512);
    send({
      case: "start",
      value: { format: { encoding: AudioEncoding.PCM16LE, sampleRateHz: RATE, chunkMs: 20, channels: 1 }, callerName: who },
    } as ConverseRequest["command"]);
    status.textContent = "connecting…";
    const stream = client.converse(out);
    try {
      for await (const ev of stream) {
        const e = ev.event;
        if (e.case === "ready") {
          canSay(true, "");
          void startMic();
        }
        else if (e.case === "speechStarted") status.textContent = "hearing you…";
        else if (e.case === "transcript" && e.value.final) line("You", e.value.text);
        else if (e.case === "reply") line("Hub", e.value.text);
        else if (e.case === "replyAudio") play(e.value.data);
        else if (e.case === "error") status.textContent = `${e.value.reason}: ${e.value.message}`;
        else if (e.case === "goingAway") status.textContent = "server restarting; call again";
      }
      status.textContent = "call ended";
    } catch (err) {
      status.textContent = describeError(err);
    } finally {
      if (out) stop();
    }
  };

  say.onsubmit = (ev) => {
    ev.preventDefault();
    const text = sayInput.value.trim();
    if (!out) {
      canSay(false, "Start a call to send typed lines.");
      return;
    }
    if (!text) {
      hint.textContent = "Type something to say first.";
      return;
    }
    hint.textContent = "";
    sayInput.value = "";
    // the service answers with a transcript event for typed text too, which the log shows
    send({ case: "text", value: { text } } as ConverseRequest["command"]);
  };
}
