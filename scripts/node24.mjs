// Prints the path of the Node 24 the jar's linux-x64 executable is built on (scripts/sea.mjs pins it), fetching it
// first if needed: scripts/test.sh runs the jest suite on it, so the tests prove the same Node the jar ships.
import { fetchRuntime } from './sea.mjs';

console.log(fetchRuntime());
