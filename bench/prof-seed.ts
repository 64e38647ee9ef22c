/**
 * `tsx bench/prof-seed.ts <baseUrl> <adminToken> [policies]`: the benchmark's reader on a running
 * vault (bench/lib.ts `seedReader`); prints its `skt_` token. Used by bench/profile.sh.
 */
import { seedReader } from "./lib.js";

const [baseUrl, adminToken, policies = "1000"] = process.argv.slice(2);
process.stdout.write((await seedReader(baseUrl, adminToken, Number(policies))).token);
