'use strict';
/**
 * An OTLP/HTTP sink for the bench's traced gateway: accepts every export (POST /v1/traces),
 * reads it whole and answers 200 with an empty ExportTraceServiceResponse, as a collector
 * would, without keeping anything. On SIGTERM it prints what it received as one JSON line.
 * Env: PORT, HOST (127.0.0.1).
 */
const http = require('node:http');

let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    requests += 1;
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
  });
});
server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ requests, bytes })}\n`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
