// Preloaded into the CDK engine's jsii kernel (`node --require`, platform_sdk/cdk/kernel.py): two of cdktf's
// dependencies load when first used instead of when cdktf loads.
//
// cdktf's index requires them at the top of two of its modules, for work the kernel rarely or never does:
// `archiver` (with its streams, glob and lodash parts) zips a directory for an ARCHIVE TerraformAsset, and cdktf
// does that in a child Node that runs cdktf/lib/private/fs.js as its main module (`archiveSync`), so the kernel
// itself never calls it; `semver` only checks a binary's version for constructs that declare one
// (cdktf/lib/validations/validate-binary-version.js: `terraform_data`, import and move blocks). Loading them was
// ~80 ms of the kernel's ~150 ms of CPU to load cdktf (Node 24, --jitless; bench/README.md). Each is handed to
// exactly that cdktf module as a stand-in that loads the real module on its first call or property read and
// forwards to it, so a version check works as before, only later, and the child that zips loads archiver itself.
// Every other require, and these two from anywhere else, is untouched (tests/test_cdk_kernel.py).
"use strict";

const Module = require("module");
const path = require("path");

const DEFERRED = new Map([
  ["archiver", path.join("cdktf", "lib", "private", "fs.js")],
  ["semver", path.join("cdktf", "lib", "validations", "validate-binary-version.js")],
]);

const load = Module._load;
if (typeof load === "function") {
  Module._load = function deferredLoad(request, parent, isMain) {
    const requiredBy = DEFERRED.get(request);
    if (requiredBy === undefined || !parent || typeof parent.filename !== "string"
        || !parent.filename.endsWith(path.sep + requiredBy)) {
      return load.apply(this, arguments);
    }
    let real;
    const loaded = () => {
      if (real === undefined) {
        real = load.call(Module, request, parent, isMain);
      }
      return real;
    };
    // What cdktf does with them: calls `archiver(...)`, reads `semver.satisfies`.
    return new Proxy(function deferred() {}, {
      apply: (_target, self, args) => Reflect.apply(loaded(), self, args),
      construct: (_target, args) => Reflect.construct(loaded(), args),
      get: (_target, key) => Reflect.get(loaded(), key),
      has: (_target, key) => Reflect.has(loaded(), key),
    });
  };
}
