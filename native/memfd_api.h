// The C interface between the main addon's parcels (memfd.cc) and the park addon, which finds it by
// dlsym: a parcel's view as a V8 backing store whose deleter lets the parcel go when V8 frees the
// view (at a GC), where Node runs an N-API finalizer only later, from the event loop.
#pragma once
#include <stddef.h>
#include <stdint.h>

extern "C" {
struct MpjsParcel {
  const uint8_t* data;
  size_t length;
  void* token;  // for mpjs_parcel_close
  int viewed;   // 1: data stays valid until mpjs_parcel_close(token, 1); 0: copy it out, then close at once
};
// Opens the parcel behind fd (the caller closes fd), as a view unless copy is asked for (or the
// process's views are at their cap). 0, or -1 with a message in error.
typedef int (*MpjsParcelOpen)(int fd, int copy, MpjsParcel* out, char* error, size_t error_size);
// Lets the parcel go; safe from any thread.
typedef void (*MpjsParcelClose)(void* token, int viewed);
}

#define MPJS_PARCEL_OPEN "mpjs_parcel_open"
#define MPJS_PARCEL_CLOSE "mpjs_parcel_close"
