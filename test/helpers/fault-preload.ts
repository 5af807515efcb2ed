/**
 * Preloaded into the real entry point by tests (`--import test/helpers/fault-preload.ts`) to cause failures from
 * outside on demand: SIGUSR2 → an unhandled promise rejection; SIGHUP → an uncaught exception (a crash).
 * Importing it only installs the two signal handlers.
 */
process.on('SIGUSR2', () => {
  // Deliberately unhandled: the entry point's unhandledRejection handler must log it.
  void Promise.reject(new Error('injected unhandled rejection (fault-preload)'));
});

process.on('SIGHUP', () => {
  throw new Error('injected crash (fault-preload)');
});

export {};
