/* The DLPack 1.x exchange ABI (DLManagedTensorVersioned), as cubatch's C consumer test sees it.
 *
 * Provenance: written for cubatch from the DLPack specification (https://dmlc.github.io/dlpack, dlpack.h of
 * DLPack v1.0/v1.1, Apache-2.0), declaring only what the consumer test reads, with the same type names,
 * field names, order and types, so that code written against the official header compiles against this one
 * unchanged. The official header could not be vendored here: no package registry this project uses ships
 * DLPack >= 1.0 (Debian's libdlpack-dev is 0.6, which predates DLManagedTensorVersioned). A trainer builds
 * against its framework's dlpack.h (libtorch ships one as ATen/dlpack.h); the static asserts below pin the
 * layout that both headers describe on 64-bit platforms, and DLPackTest checks cubatch's Java StructLayouts
 * against them at run time (cb_dlpack_layout).
 */
#ifndef CUBATCH_DLPACK_ABI_H_
#define CUBATCH_DLPACK_ABI_H_

#include <stddef.h>
#include <stdint.h>

#define DLPACK_MAJOR_VERSION 1
#define DLPACK_FLAG_BITMASK_READ_ONLY (1UL << 0UL)
#define DLPACK_FLAG_BITMASK_IS_COPIED (1UL << 1UL)

typedef struct {
  uint32_t major;
  uint32_t minor;
} DLPackVersion;

typedef enum { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3 } DLDeviceType;

typedef struct {
  DLDeviceType device_type;
  int32_t device_id;
} DLDevice;

typedef enum { kDLInt = 0U, kDLUInt = 1U, kDLFloat = 2U, kDLBfloat = 4U, kDLBool = 6U } DLDataTypeCode;

typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

typedef struct {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
} DLManagedTensorVersioned;

_Static_assert(sizeof(DLDevice) == 8, "DLDevice is two int32");
_Static_assert(sizeof(DLDataType) == 4, "DLDataType is u8, u8, u16");
_Static_assert(sizeof(DLTensor) == 48, "DLTensor is 48 bytes on 64-bit platforms");
_Static_assert(offsetof(DLTensor, ndim) == 16 && offsetof(DLTensor, dtype) == 20 && offsetof(DLTensor, shape) == 24
                   && offsetof(DLTensor, strides) == 32 && offsetof(DLTensor, byte_offset) == 40,
               "DLTensor field offsets");
_Static_assert(sizeof(DLManagedTensorVersioned) == 80, "DLManagedTensorVersioned is 80 bytes on 64-bit platforms");
_Static_assert(offsetof(DLManagedTensorVersioned, manager_ctx) == 8
                   && offsetof(DLManagedTensorVersioned, deleter) == 16
                   && offsetof(DLManagedTensorVersioned, flags) == 24
                   && offsetof(DLManagedTensorVersioned, dl_tensor) == 32,
               "DLManagedTensorVersioned field offsets");

#endif
