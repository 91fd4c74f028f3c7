package io.cubatch.cuda;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

/**
 * The per-device context registry: for each GPU the process uses, its primary context, retained once and
 * held for the life of the process (as the CUDA runtime holds it), and the kernels loaded into it once from
 * the jar's fatbin. Retaining and releasing the primary context per collator would destroy and rebuild the
 * context and reload the module every time (thousands of times in a test run), and a release that drops
 * the last reference frees whatever another user of the device still had. This is cubatch's only static
 * CUDA state; what is allocated on a device belongs to a {@link CudaContext}.
 */
final class CudaDevice {
    private static final Map<Integer, CudaDevice> DEVICES = new HashMap<>();

    final Cuda.Device info;
    private final CUcontext context = new CUcontext();
    final CUfunction padKernel = new CUfunction();
    final CUfunction pad16Kernel = new CUfunction();
    final CUfunction stackKernel = new CUfunction();
    final CUfunction packKernel = new CUfunction();
    final int multiprocessors;

    private CudaDevice(Cuda.Device info) {
        this.info = info;
        CUdevice device = new CUdevice();
        CudaException.check(JCudaDriver.cuDeviceGet(device, info.ordinal()), "cuDeviceGet");
        CudaException.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        CUmodule module = new CUmodule();
        boolean loaded = false;
        try {
            makeCurrent();
            int[] sms = new int[1];
            CudaException.check(JCudaDriver.cuDeviceGetAttribute(sms,
                    CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device), "cuDeviceGetAttribute");
            multiprocessors = sms[0];
            CudaException.check(JCudaDriver.cuModuleLoadData(module, Cuda.fatbin()), "cuModuleLoadData");
            loaded = true;
            function(module, padKernel, "cb_pad_kernel");
            function(module, pad16Kernel, "cb_pad_kernel16");
            function(module, stackKernel, "cb_stack_kernel");
            function(module, packKernel, "cb_pack_kernel");
        } catch (RuntimeException e) {
            // a failed registration keeps nothing: the next attempt starts afresh
            if (loaded) {
                JCudaDriver.cuModuleUnload(module);
            }
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    private static void function(CUmodule module, CUfunction f, String name) {
        CudaException.check(JCudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
    }

    /**
     * Device {@code ordinal}, registered on first use.
     *
     * @throws IllegalStateException    when the cuda backend is unavailable (with the reason)
     * @throws IllegalArgumentException naming the devices there are, for an ordinal outside them
     */
    static CudaDevice get(int ordinal) {
        Cuda.Availability a = Cuda.availability();
        if (!a.available()) {
            throw new IllegalStateException("the cuda backend is unavailable: " + a.reason());
        }
        if (ordinal < 0 || ordinal >= a.devices().size()) {
            throw new IllegalArgumentException("device " + ordinal + " does not exist: this machine has "
                    + a.devices().size() + " GPU(s), numbered 0.." + (a.devices().size() - 1));
        }
        synchronized (DEVICES) {
            CudaDevice d = DEVICES.get(ordinal);
            if (d == null) {
                d = new CudaDevice(a.devices().get(ordinal));
                DEVICES.put(ordinal, d);
            }
            return d;
        }
    }

    /** Makes the device's primary context current on the calling thread. */
    void makeCurrent() {
        CudaException.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    CUcontext context() {
        return context;
    }
}
