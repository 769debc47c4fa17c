// Views of the main addon's pool parcels that V8 lets go itself (see parcel_views.cc).
#pragma once
#include <node.h>

void InitParcelViews(v8::Local<v8::Object> exports);
