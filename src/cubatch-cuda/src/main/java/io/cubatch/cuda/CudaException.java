package io.cubatch.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver call that did not return {@code CUDA_SUCCESS}: names the call and the error
 * ({@code CUresult.stringFor}), and keeps the numeric code so callers can branch on it (the memory probe
 * recognises {@code CUDA_ERROR_OUT_OF_MEMORY} by its code, never by the message).
 */
public final class CudaException extends RuntimeException {
    /** The driver call that failed. */
    private final String call;
    /** Its {@code CUresult} code. */
    private final int code;

    /**
     * A failed driver call; the message adds the error's name, its code and, for common codes, the fix.
     *
     * @param call the driver call, with its arguments when they help ("cuMemAlloc(1024 bytes)")
     * @param code the {@code CUresult} it returned
     */
    public CudaException(String call, int code) {
        super(call + " failed: " + CUresult.stringFor(code) + " (" + code + ")" + hint(code));
        this.call = call;
        this.code = code;
    }

    /**
     * Throws a {@link CudaException} unless {@code result} is {@code CUDA_SUCCESS}.
     *
     * @param result the {@code CUresult} a driver call returned
     * @param call the call, for the message
     * @throws CudaException when {@code result} is not {@code CUDA_SUCCESS}
     */
    public static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, result);
        }
    }

    /**
     * The driver call, e.g. {@code cuMemAlloc}.
     *
     * @return the call, as given
     */
    public String call() {
        return call;
    }

    /**
     * The {@code CUresult} code.
     *
     * @return the code
     */
    public int code() {
        return code;
    }

    /**
     * The {@code CUresult} name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}.
     *
     * @return the name
     */
    public String errorName() {
        return CUresult.stringFor(code);
    }

    /**
     * Whether the device ran out of memory, recognised by the code.
     *
     * @return true for {@code CUDA_ERROR_OUT_OF_MEMORY}
     */
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
