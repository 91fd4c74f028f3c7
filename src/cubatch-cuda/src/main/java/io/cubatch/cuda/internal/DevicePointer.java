package io.cubatch.cuda.internal;

import jcuda.driver.CUdeviceptr;

/**
 * A {@link CUdeviceptr} whose address Java can read: the kernels take structs of device addresses by value,
 * which JCuda's public API cannot express. cuMemAlloc fills an instance of this class like any CUdeviceptr.
 */
public final class DevicePointer extends CUdeviceptr {
    /** The device address. */
    public long address() {
        return getNativePointer() + getByteOffset();
    }
}
