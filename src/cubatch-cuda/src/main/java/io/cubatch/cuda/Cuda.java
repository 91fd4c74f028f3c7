package io.cubatch.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * Whether the CUDA backend can run here, and why not. Checked once per JVM, in this order, each step only
 * after the one before it succeeded:
 * <ol>
 * <li>the jar holds the kernels ({@code cubatch.fatbin}; the build writes why not when nvcc was missing);
 * <li>the driver's {@code libcuda.so.1} loads, probed through {@code java.lang.foreign} (about 12 ms), because
 *     JCuda's first touch without it throws {@link UnsatisfiedLinkError} and then
 *     {@link NoClassDefFoundError} for the rest of the JVM's life;
 * <li>JCuda's JNI library loads and {@code cuInit} and {@code cuDeviceGetCount} succeed with at least one
 *     device;
 * <li>device 0's compute capability is one the fatbin has code for ({@link KernelArchitectures#match}).
 * </ol>
 * No step lets an {@link Error} escape: each failure becomes the reason. This is the only JVM-wide CUDA
 * state in cubatch, and it holds a verdict, not a handle: contexts, streams and memory belong to
 * {@link CudaContext} objects.
 */
public final class Cuda {
    private Cuda() {
    }

    /** The resource the build writes the kernels to. */
    public static final String FATBIN_RESOURCE = "/io/cubatch/cuda/cubatch.fatbin";
    private static final String UNAVAILABLE_RESOURCE = "/io/cubatch/cuda/cuda-unavailable.txt";

    /**
     * A GPU as the driver reports it.
     *
     * @param ordinal      the device number ({@code CUDA_VISIBLE_DEVICES} applies)
     * @param name         e.g. {@code NVIDIA H100 80GB HBM3}
     * @param totalBytes   device memory
     * @param computeMajor compute capability, major
     * @param computeMinor compute capability, minor
     */
    public record Device(int ordinal, String name, long totalBytes, int computeMajor, int computeMinor) {
    }

    /**
     * The verdict.
     *
     * @param available true when a {@link CudaContext} can be opened on device 0
     * @param reason    why not; empty when available
     * @param devices   the GPUs, empty when unavailable
     */
    public record Availability(boolean available, String reason, List<Device> devices) {
        static Availability no(String reason) {
            return new Availability(false, reason, List.of());
        }
    }

    private static volatile Availability cached;

    /**
     * The verdict, computed on first use and then remembered.
     *
     * @return whether the backend can run, why not, and the GPUs
     */
    public static Availability availability() {
        Availability a = cached;
        if (a == null) {
            synchronized (Cuda.class) {
                if (cached == null) {
                    cached = probe(Optional.empty());
                }
                a = cached;
            }
        }
        return a;
    }

    /**
     * The verdict for a given driver library name (tests pass a name that cannot exist to see the path a
     * machine without a driver takes); not remembered.
     */
    static Availability probe(Optional<String> driverLibrary) {
        if (!kernelsPackaged()) {
            return Availability.no(fatbinMissingReason());
        }
        String lib = driverLibrary.orElse("libcuda.so.1");
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(lib, arena);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return Availability.no(lib + " not found: no NVIDIA driver on this machine (the cuda backend needs"
                    + " the driver only, not the CUDA toolkit)");
        }
        if (driverLibrary.isPresent()) {
            return Availability.no("probe of " + lib + " only");
        }
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int r = JCudaDriver.cuInit(0);
            if (r != 0) {
                return Availability.no(new CudaException("cuInit", r).getMessage());
            }
            int[] count = new int[1];
            r = JCudaDriver.cuDeviceGetCount(count);
            if (r != 0) {
                return Availability.no(new CudaException("cuDeviceGetCount", r).getMessage());
            }
            if (count[0] == 0) {
                return Availability.no("the NVIDIA driver is installed but sees no GPU (check CUDA_VISIBLE_DEVICES)");
            }
            List<Device> devices = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                devices.add(describe(i));
            }
            Optional<KernelArchitectures.Match> kernels = kernelsFor(devices.getFirst());
            if (kernels.isPresent() && !kernels.get().runs()) {
                Device d = devices.getFirst();
                return Availability.no("GPU 0 (" + d.name() + ") cannot run the packaged kernels: " + kernels.get().how());
            }
            return new Availability(true, "", List.copyOf(devices));
        } catch (CudaException e) {
            return Availability.no(e.getMessage());
        } catch (LinkageError e) {
            return Availability.no("JCuda could not load its native library for this platform: " + e);
        } catch (RuntimeException e) {
            return Availability.no("CUDA initialisation failed: " + e);
        }
    }

    /**
     * How a device runs the packaged kernels (its SASS, a compatible SASS, JIT from PTX), or why it cannot.
     *
     * @param d the device
     * @return the verdict, or empty when the build recorded no architecture list
     */
    public static Optional<KernelArchitectures.Match> kernelsFor(Device d) {
        return KernelArchitectures.packaged().map(k -> k.match(d.computeMajor(), d.computeMinor()));
    }

    static Device describe(int ordinal) {
        CUdevice dev = new CUdevice();
        CudaException.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet");
        byte[] name = new byte[256];
        CudaException.check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int n = 0;
        while (n < name.length && name[n] != 0) {
            n++;
        }
        long[] total = new long[1];
        CudaException.check(JCudaDriver.cuDeviceTotalMem(total, dev), "cuDeviceTotalMem");
        int[] major = new int[1];
        int[] minor = new int[1];
        CudaException.check(JCudaDriver.cuDeviceGetAttribute(major,
                CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
        CudaException.check(JCudaDriver.cuDeviceGetAttribute(minor,
                CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
        return new Device(ordinal, new String(name, 0, n, StandardCharsets.UTF_8), total[0], major[0], minor[0]);
    }

    /**
     * Whether the jar holds the kernels ({@code cubatch.fatbin}).
     *
     * @return true when the fatbin is a resource of this jar
     */
    public static boolean kernelsPackaged() {
        return Cuda.class.getResource(FATBIN_RESOURCE) != null;
    }

    /**
     * What the build wrote when it could not compile the kernels (nvcc missing), if it did.
     *
     * @return the note, or empty
     */
    public static Optional<String> buildNote() {
        try (InputStream in = Cuda.class.getResourceAsStream(UNAVAILABLE_RESOURCE)) {
            return in == null ? Optional.empty()
                    : Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String fatbinMissingReason() {
        return buildNote().map(note -> "the jar holds no CUDA kernels: " + note).orElse("the jar holds no CUDA kernels ("
                + FATBIN_RESOURCE.substring(1) + " missing): build with nvcc on PATH");
    }

    /** The kernels as packaged, for cuModuleLoadData. */
    static byte[] fatbin() {
        try (InputStream in = Cuda.class.getResourceAsStream(FATBIN_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(fatbinMissingReason());
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + FATBIN_RESOURCE + ": " + e.getMessage(), e);
        }
    }
}
