// Preloaded into the CDK engine's jsii kernel (`node --require`, platform_sdk/cdk/kernel.py): cdktf places each
// FILE asset into its stack's folder as a hard link to the built file instead of a copy, where the file system
// allows it.
//
// cdktf's TerraformAsset copies the file (`fs.copyFileSync(source, target)` in cdktf/lib/terraform-asset.js) into a
// folder it has just made, `assets/<logical id>/<hash>/<file name>`. The files handed to it are the function
// packages and the files compilers build, each written to a new file and renamed into place, never rewritten in
// place (platform_sdk/synth/assets.py write_zip), so a link has the copy's content for as long as the copy would:
// a rebuilt package is a new file, and the link in the synthesized output keeps the bytes it was synthesized with.
// On this project's disk the copies were ~35 ms of the kernel's system CPU for 70 packages (bench/README.md).
// Anything a link cannot do (another file system: EXDEV; a file system without hard links; a source that is not a
// regular file, e.g. a symbolic link, which copyFileSync follows; a target that exists; copy flags) is copied exactly
// as cdktf does. Only that one cdktf module gets this `fs`; every other module's is untouched
// (tests/test_cdk_kernel.py).
"use strict";

const Module = require("module");
const fs = require("fs");
const path = require("path");

const ASSET_MODULE = path.sep + path.join("cdktf", "lib", "terraform-asset.js");

function linkOrCopy(source, target, mode) {
  if (!mode) {
    try {
      if (fs.lstatSync(source).isFile()) {
        fs.linkSync(source, target);
        return undefined;
      }
    } catch (_error) {
      // copied below, as cdktf does
    }
  }
  return fs.copyFileSync(source, target, mode);
}

const linkingFs = new Proxy(fs, {
  get: (target, key, receiver) => (key === "copyFileSync" ? linkOrCopy : Reflect.get(target, key, receiver)),
});

const load = Module._load;
if (typeof load === "function") {
  Module._load = function assetLinksLoad(request, parent, isMain) {
    if (request === "fs" && parent && typeof parent.filename === "string" && parent.filename.endsWith(ASSET_MODULE)) {
      return linkingFs;
    }
    return load.apply(this, arguments);
  };
}
