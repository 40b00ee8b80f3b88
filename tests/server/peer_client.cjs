// SPDX-License-Identifier: MIT
// A gRPC peer written by nobody here: @grpc/grpc-js + @grpc/proto-loader read the .proto at
// run time, call GetServerInfo, submit a job and watch it to its terminal event. Prints one
// JSON object. Usage: node peer_client.cjs HOST:PORT PROTO_ROOT IMAGE
const fs = require("fs");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [address, protoRoot, imagePath] = process.argv.slice(2);
const definition = protoLoader.loadSync("trellis2/v1/asset_generation.proto", {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).trellis2.v1;
const client = new v1.AssetGenerationService(address, grpc.credentials.createInsecure());

function unary(method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, (err, reply) => (err ? reject(err) : resolve(reply))),
  );
}

(async () => {
  const info = await unary("GetServerInfo", {});
  const job = await unary("CreateJob", {
    image: fs.readFileSync(imagePath),
    pipeline_type: "PIPELINE_TYPE_512",
    seed: 7,
    display_name: "node_peer",
    export_options: { texture_size: 256, decimation_target: 2000 },
  });
  const events = await new Promise((resolve, reject) => {
    const seen = [];
    const call = client.WatchJob({ name: job.name, after_seq: 0 });
    call.on("data", (ev) => seen.push({ seq: ev.seq, kind: ev.event }));
    call.on("end", () => resolve(seen));
    call.on("error", reject);
  });
  console.log(JSON.stringify({ info, job: job.name, events }));
  client.close();
})().catch((err) => {
  console.error(String(err));
  process.exit(2);
});
