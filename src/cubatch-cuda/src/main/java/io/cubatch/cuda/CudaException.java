package io.cubatch.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver call that did not return {@code CUDA_SUCCESS}: names the call and the error
 * ({@code CUresult.stringFor}), and keeps the numeric code so callers can branch on it (the memory probe
 * recognises {@code CUDA_ERROR_OUT_OF_MEMORY} by its code, never by the message).
 */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int code;

    public CudaException(String call, int code) {
        super(call + " failed: " + CUresult.stringFor(code) + " (" + code + ")" + hint(code));
        this.call = call;
        this.code = code;
    }

    /** Throws a {@link CudaException} unless {@code result} is {@code CUDA_SUCCESS}. */
    public static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, result);
        }
    }

    /** The driver call, e.g. {@code cuMemAlloc}. */
    public String call() {
        return call;
    }

    /** The {@code CUresult} code. */
    public int code() {
        return code;
    }

    /** The {@code CUresult} name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String errorName() {
        return CUresult.stringFor(code);
    }

    public boolean isOutOfMemory() {
        return code == CUresult.CUDA_ERROR_OUT_OF_MEMORY;
    }

    private static String hint(int code) {
        return switch (code) {
            case CUresult.CUDA_ERROR_OUT_OF_MEMORY -> ": the device is out of memory; use a smaller batch"
                    + " (cubatch probe finds the largest that fits)";
            case CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION ->
                    ": the jar's kernels have " + KernelArchitectures.packaged().map(KernelArchitectures::describe)
                            .orElse("no recorded architecture list") + "; this GPU or driver takes none of them (update"
                            + " the driver, or rebuild cuda/ for this GPU)";
            case CUresult.CUDA_ERROR_NO_DEVICE -> ": the driver sees no GPU (CUDA_VISIBLE_DEVICES?)";
            case CUresult.CUDA_ERROR_INVALID_DEVICE -> ": no such device ordinal (cubatch info lists the devices)";
            default -> "";
        };
    }
}
