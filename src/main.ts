// The process's entry point (`npm start`, `node dist/main.js`). It loads nothing but the version check first: an
// older Node stops there with a message, before reading the gateway's modules (2 s of loading on a busy machine).
import './node-version.ts';

await import('./gateway-main.ts');
