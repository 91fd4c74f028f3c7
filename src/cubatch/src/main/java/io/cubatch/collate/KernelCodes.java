package io.cubatch.collate;

import io.cubatch.store.SampleStore;

/**
 * The numbers the kernel math takes for sides and fixed-shape stores (cuda/cb_common.cuh, cb_pad.cuh),
 * in one place for every backend that calls it (native through libcubatch, cuda through the kernels).
 */
public final class KernelCodes {
    private KernelCodes() {
    }

    /** CB_SIDE_PRE, CB_SIDE_POST, CB_SIDE_NONE of cuda/cb_common.cuh. */
    public static final int SIDE_PRE = 0;
    /** {@code CB_SIDE_POST}: padding or truncation at the end. */
    public static final int SIDE_POST = 1;
    /** {@code CB_SIDE_NONE}: no truncation side. */
    public static final int SIDE_NONE = 2;

    /**
     * The padding side's code.
     *
     * @param padding the padding
     * @return {@link #SIDE_PRE} or {@link #SIDE_POST}
     */
    public static int padSide(Padding padding) {
        return padding.side() == PadSide.PRE ? SIDE_PRE : SIDE_POST;
    }

    /**
     * The truncation side's code, {@link #SIDE_NONE} when none is set.
     *
     * @param padding the padding
     * @return {@link #SIDE_PRE}, {@link #SIDE_POST} or {@link #SIDE_NONE}
     */
    public static int truncationSide(Padding padding) {
        return padding.truncation().isEmpty() ? SIDE_NONE
                : padding.truncation().get() == PadSide.PRE ? SIDE_PRE : SIDE_POST;
    }

    /**
     * {@code fixed_len} of cb_pad_args: timesteps per sample of a fixed-shape store, 0 for a ragged one.
     *
     * @param store the samples
     * @return the fixed length in timesteps, or 0
     */
    public static long fixedLength(SampleStore store) {
        return store.isRagged() || store.size() == 0 ? 0 : store.length(0);
    }
}
