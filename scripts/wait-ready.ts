/**
 * Waits until a service answers at the protocol level (not merely an open port):
 *   node --import tsx scripts/wait-ready.ts <kafka|rabbit|registry|mongo|s3|prometheus> [seconds] [pid]
 * With a pid, gives up as soon as that process has exited.
 * Exits 0 when ready, 1 with the last error when the time runs out.
 */
import { Kafka, logLevel } from 'kafkajs';
import amqp from 'amqplib';
import { MongoClient } from 'mongodb';
import { connect as tcpConnect } from 'node:net';
import { endpoints } from './endpoints.ts';

const checks: Record<string, () => Promise<string>> = {
  async kafka() {
    const admin = new Kafka({ brokers: endpoints().kafkaBrokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      // The group coordinator answering proves the broker, not only the listener, is up.
      await admin.listGroups();
      return `cluster ${cluster.clusterId}, controller ${cluster.controller}`;
    } finally {
      await admin.disconnect();
    }
  },
  async rabbit() {
    const conn = await amqp.connect(endpoints().rabbitUrl);
    try {
      const ch = await conn.createChannel();
      await ch.close();
      const server = conn.connection.serverProperties;
      await tcpReachable(Number(process.env.RABBIT_STREAM_PORT ?? 5552));
      const mgmt = new URL(endpoints().rabbitManagementUrl);
      const res = await fetch(new URL('/api/overview', mgmt.origin), {
        headers: { authorization: `Basic ${Buffer.from(`${decodeURIComponent(mgmt.username)}:${decodeURIComponent(mgmt.password)}`).toString('base64')}` },
      });
      if (!res.ok) throw new Error(`management API answered ${res.status}`);
      return `RabbitMQ ${String(server.version)}, streams and management up`;
    } finally {
      await conn.close();
    }
  },
  async registry() {
    const res = await fetch(`${endpoints().schemaRegistryUrl}/subjects`);
    if (!res.ok) throw new Error(`GET /subjects answered ${res.status}`);
    return `schema registry answering at ${endpoints().schemaRegistryUrl}`;
  },
  async s3() {
    // Unsigned: S3Proxy answers 403 AccessDenied in S3's XML once its API is up.
    const url = process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000';
    const res = await fetch(url);
    const body = await res.text();
    if (!body.includes('<Error>')) throw new Error(`${url} answered ${res.status} without an S3 error document`);
    return `S3 API answering at ${url}`;
  },
  async prometheus() {
    const url = process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090';
    const res = await fetch(`${url}/-/ready`);
    if (!res.ok) throw new Error(`${url}/-/ready answered ${res.status}`);
    return `Prometheus ready at ${url}`;
  },
  async mongo() {
    const client = new MongoClient(endpoints().mongoUrl, { serverSelectionTimeoutMS: 2000 });
    try {
      await client.connect();
      const info = await client.db('admin').command({ buildInfo: 1 });
      return `MongoDB wire protocol ${String(info.version)}`;
    } finally {
      await client.close();
    }
  },
};

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tcpReachable(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => { s.end(); resolve(); });
    s.on('error', reject);
  });
}

const [name, secondsArg, pidArg] = process.argv.slice(2);
const check = name ? checks[name] : undefined;
if (!check) {
  console.error(`usage: wait-ready.ts <${Object.keys(checks).join('|')}> [seconds]`);
  process.exit(2);
}
const deadline = Date.now() + Number(secondsArg ?? 180) * 1000;
let lastError = 'not tried';
while (Date.now() < deadline) {
  if (pidArg && !processAlive(Number(pidArg))) {
    console.error(`[services] ${name} exited before it was ready (last check: ${lastError})`);
    process.exit(1);
  }
  try {
    console.error(`[services] ${name} ready: ${await check()}`);
    process.exit(0);
  } catch (e) {
    lastError = e instanceof Error ? e.message : String(e);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
console.error(`[services] ${name} not ready: ${lastError}`);
process.exit(1);
