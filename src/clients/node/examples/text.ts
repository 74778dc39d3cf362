// Fix text typed in the wrong keyboard layout (unary), e.g. "akuo" -> "שלום".
//   REALTIME_TOKEN=$(realtime token --sub alice) node src/clients/node/run.mjs src/clients/node/examples/text.ts akuo
import { TextService } from "../../../../gen/ts/realtime/v1/text_pb.js";
import { createClient, createHubNodeTransport, envTls, envToken } from "../index.js";

const transport = createHubNodeTransport({ baseUrl: process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051", token: envToken(), ...envTls() });
const text = createClient(TextService, transport);
const reply = await text.fixText({ text: process.argv.slice(2).join(" ") || "akuo" });
console.log(reply.fix?.text);
for (const s of reply.fix?.suggestions ?? []) console.log(`  ${s.offset}+${s.length} -> ${s.replacement} (${s.message})`);
