// Where the gateway's code runs from: src/ (the source tree, through Node's type stripping) or dist/ (the build: one
// bundle, whose chunks all sit directly in dist/). Either way one level below the project, like this module, so the
// folders other modules look for are named from here: a bundled module's own import.meta.url is its chunk's.

/** src/ or dist/. */
export const CODE_DIR = new URL('./', import.meta.url);
/** The project (or the image's /app). */
export const PROJECT_DIR = new URL('../', import.meta.url);
