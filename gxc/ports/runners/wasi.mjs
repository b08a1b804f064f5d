// gxc's wasip1 launcher for node: `node --no-warnings wasi.mjs prog.wasm [args...]`.
// Go's wasip1 runtime reads PWD for its working directory; "/" is preopened so paths resolve as on the host.
// returnOnExit is false: node's WASI ends the process itself at proc_exit. With returnOnExit: true, node 20
// crashed (SIGSEGV, exit 139) while tearing down larger programs after they had printed PASS.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [wasmPath, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: "preview1",
  args: [wasmPath, ...args],
  env: { ...process.env, PWD: process.cwd() },
  preopens: { "/": "/" },
  returnOnExit: false,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
wasi.start(instance);  // returns only if the program never called proc_exit
