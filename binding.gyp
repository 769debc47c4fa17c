# multiprocess: the ABI-stable N-API addon. multiprocess_park: platform parking for fork, built per
# Node ABI (node.h) in the C++ standard that Node's own common.gypi sets (C++20 from Node 23 on:
# forcing C++17 fails there), with a .so name so that node-gyp-build never mistakes it for the main addon.
{
  "targets": [
    {
      "target_name": "multiprocess",
      "sources": [
        "native/binding.cc",
        "native/shm.cc",
        "native/semlock.cc",
        "native/condition.cc",
        "native/resource_tracker.cc",
        "native/wait.cc",
        "native/bell.cc",
        "native/system.cc",
        "native/unix_socket.cc",
        "native/memfd.cc",
        "native/fork.cc",
        "native/ring.cc",
        "native/spin.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # SWALLOW_UNTHROWABLE: an error raised while a Worker's environment is being torn down
      # (terminate() during a watcher's construction) cannot reach JS; unswallowed, node-addon-api
      # rethrows it as a C++ exception and the whole process aborts.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread"],
      "conditions": [
        # Every symbol bound at load, in the parent: lazily bound, each fork child would look up
        # again, page by page, the ones only a child calls (uv_loop_fork, sigaction, _exit).
        ["OS=='linux'", { "libraries": ["-lrt"], "ldflags": ["-Wl,-z,now"] }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["\"<!(echo $MPJS_SANITIZE)\"=='1'", {
          "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1"],
          "ldflags": ["-fsanitize=address,undefined"]
        }],
        # ThreadSanitizer (scripts/tsan.sh): the addon only; node itself is not instrumented.
        ["\"<!(echo $MPJS_SANITIZE)\"=='thread'", {
          "cflags": ["-fsanitize=thread", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=thread"]
        }],
        # valgrind memcheck (scripts/memcheck.sh): debug info, and no inlining that hides our frames.
        ["\"<!(echo $MPJS_SANITIZE)\"=='memcheck'", {
          "cflags": ["-g", "-O1", "-fno-omit-frame-pointer", "-fno-inline"]
        }]
      ]
    },
    {
      "target_name": "multiprocess_park",
      "target_conditions": [["_type=='loadable_module'", { "product_extension": "so" }]],
      "sources": ["native/park/park.cc", "native/park/child_platform.cc", "native/park/parcel_views.cc"],
      # node.h's NODE_MODULE_INIT casts its register function.
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      "conditions": [["OS=='linux'", { "ldflags": ["-Wl,-z,now"], "libraries": ["-ldl"] }]],
      "xcode_settings": { "MACOSX_DEPLOYMENT_TARGET": "11.0" }
    }
  ]
}
