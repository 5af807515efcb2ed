/**
 * Entry point of `npm run trainer`: a trainer host for the training queue (./trainer-host.ts) until it stops.
 */
import { runTrainerHost } from './trainer-host.js';

process.exit(await runTrainerHost());
