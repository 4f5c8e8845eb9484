// Library entry: the core modules, usable without the CLI.
export * from './errors.js';
