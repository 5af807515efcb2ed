// A local S3-compatible server (s3rver, from npm) as its own process, for the tests and the bench: started by
// test/helpers/s3-server.ts with the port and folder as arguments, it creates the bucket, prints
// {"port": N} on stdout once it listens, and serves until killed. Restarted on the same folder, it serves the
// same objects (an outage and its end).
import S3rver from 's3rver';

const [port = '0', directory, bucket = 'babble-models'] = process.argv.slice(2);
if (!directory) {
  process.stderr.write('usage: s3-server-process.mjs <port> <folder> [bucket]\n');
  process.exit(2);
}
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port: listening } = await server.run();
process.stdout.write(`${JSON.stringify({ port: listening })}\n`);
