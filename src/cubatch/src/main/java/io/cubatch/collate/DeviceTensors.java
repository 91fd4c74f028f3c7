package io.cubatch.collate;

/**
 * A batch's tensors on a GPU: device addresses (as {@code long}, for any CUDA binding) and the readiness of
 * the work that writes them. A device backend returns them from {@link Collator#fill}; the cuda backend's
 * implementation ({@code io.cubatch.cuda.CudaTensors}) adds its stream and ready event as JCuda objects, so
 * a consumer can wait on the device instead of the host.
 */
public interface DeviceTensors {

    /**
     * [B, L(, F)], dtype, positions.
     *
     * @return the shape
     */
    PaddedShape shape();

    /**
     * The GPU.
     *
     * @return the CUDA device ordinal
     */
    int device();

    /**
     * Device address of the data, {@code shape().dataBytes()} bytes.
     *
     * @return the address; valid until the batch is closed
     */
    long data();

    /**
     * Device address of the int32 lengths [B].
     *
     * @return the address
     */
    long lengths();

    /**
     * Device address of the uint8 attention mask [B, L].
     *
     * @return the address
     */
    long attentionMask();

    /**
     * Device address of the int32 position ids [B, L], or 0 when not asked for.
     *
     * @return the address, or 0
     */
    long positions();

    /**
     * Device address of a packed batch's int32 cu_seqlens [S + 1]; 0 for a padded batch.
     *
     * @return the address, or 0
     */
    default long cuSeqlens() {
        return 0;
    }

    /**
     * Device address of a packed batch's int32 max_seqlen [1]; 0 for a padded batch.
     *
     * @return the address, or 0
     */
    default long maxSeqlen() {
        return 0;
    }

    /**
     * Blocks the calling thread until the tensors are written, and checks the kernel's error report.
     *
     * @throws CollateException naming the value that does not fit, as the host backends do
     */
    void await();

    /**
     * Bytes this batch sent host to device: offsets + real tokens (compact), or the indices (resident).
     *
     * @return the bytes copied to the device for this batch
     */
    long h2dBytes();
}
