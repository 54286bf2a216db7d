{
  # CPU addon. Kernel files (native/ops/*/*_cpu.cc) are compiled three times, once per ISA variant
  # (KV_ISA selects the namespace and the target pragma in native/core/isa_begin.h); the addon picks
  # the variant at run time. No -m flags at target level: the binary runs on any x86-64 CPU.
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native", "native/addon"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags": ["-O3", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden", "-Wno-maybe-uninitialized"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CFLAGS": ["-O3", "-fno-math-errno"]
    }
  },
  "targets": [
    {
      "target_name": "kernels_portable",
      "type": "static_library",
      "defines": ["KV_ISA=0"],
      "sources": ["<!@(node scripts/gyp-sources.mjs kernels)"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "defines": ["KV_ISA=1"],
      "sources": ["<!@(node scripts/gyp-sources.mjs kernels)"]
    },
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "defines": ["KV_ISA=2"],
      "sources": ["<!@(node scripts/gyp-sources.mjs kernels)"]
    },
    {
      "target_name": "kvserve",
      "dependencies": ["kernels_portable", "kernels_avx2", "kernels_avx512"],
      "sources": ["<!@(node scripts/gyp-sources.mjs addon)"],
      "libraries": ["-lpthread"]
    }
  ]
}
