// The first import of each entry point (main.ts, healthcheck.ts). On an older Node the modules after it fail in
// ways that say nothing of why (undici 8 reads zlib's zstd at load, Node 22.15 and later). ES modules run their
// imports in order, so this check runs before any of them.

const REQUIRED_MAJOR = 24;
const [major = 0] = process.versions.node.split('.').map(Number);

if (major < REQUIRED_MAJOR) {
  process.stderr.write(
    `The CRM record-photo gateway needs Node ${REQUIRED_MAJOR} or later; this is Node ${process.versions.node}.\n` +
      `Run it with \`npm start\` (the project's own Node ${REQUIRED_MAJOR}, installed by npm ci), ` +
      `or install Node ${REQUIRED_MAJOR} LTS.\n`,
  );
  process.exit(1);
}

export {};
