import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The end-to-end tests run the compiled bot (node dist/src/main.js): compile first when dist/ is stale.
    globalSetup: ['test/helpers/dist.ts'],
  },
});
