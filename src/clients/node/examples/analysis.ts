// Submit a text to an analyzer and watch its progress (a server stream), then print the result.
//   REALTIME_TOKEN=$(realtime token --sub alice) node src/clients/node/run.mjs src/clients/node/examples/analysis.ts "some text"
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { AnalysisMetadataSchema, AnalysisResultSchema, AnalysisService } from "../../../../gen/ts/realtime/v1/analysis_pb.js";
import { createClient, createHubNodeTransport, envTls, envToken } from "../index.js";

const transport = createHubNodeTransport({ baseUrl: process.env.REALTIME_GRPC_URL ?? "http://127.0.0.1:50051", token: envToken(), ...envTls() });
const analysis = createClient(AnalysisService, transport);

const text = process.argv.slice(2).join(" ") || "Hello world. akuo!";
const op = await analysis.submitAnalysis({ analyzer: "text.inspect", input: { source: { case: "text", value: text } } });
for await (const ev of analysis.watchAnalysis({ name: op.name })) {
  const md = ev.operation?.metadata ? anyUnpack(ev.operation.metadata, AnalysisMetadataSchema) : undefined;
  if (md) console.log(`${md.percent}% ${md.phase}`);
  if (ev.operation?.done) {
    if (ev.operation.result.case === "response") {
      console.log(JSON.stringify(anyUnpack(ev.operation.result.value, AnalysisResultSchema)?.data, null, 2));
    } else if (ev.operation.result.case === "error") {
      console.error(ev.operation.result.value.message);
    }
    break;
  }
}
