/** Types of scripts/build.mjs (plain JavaScript: it runs before anything is compiled). */
export function staleReasons(root: string, limit?: number): string[];
export function findTsc(root: string): string | undefined;
export function build(root: string, tsc: string): void;
