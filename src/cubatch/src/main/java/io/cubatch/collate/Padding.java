package io.cubatch.collate;

import io.cubatch.store.DType;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * How a batch of sequences becomes one {@code [B, L]} or {@code [B, L, F]} tensor: Keras
 * {@code pad_sequences} with every choice explicit, plus what trainers need.
 * <ul>
 *   <li>{@link Builder#side(PadSide) side}: required, no default.</li>
 *   <li>{@link Builder#maxlen(long) maxlen}: fixed, or (unset) the batch's longest sequence; either way
 *       rounded up by {@link Builder#padToMultipleOf(int) padToMultipleOf} when set. Truncation cuts to
 *       {@code maxlen} itself, so with a multiple, {@code L >= maxlen}.</li>
 *   <li>{@link Builder#truncation(PadSide) truncation}: needed only when a sequence is longer than
 *       {@code maxlen}; without it that is an error naming the sequence, its length and {@code maxlen}.</li>
 *   <li>{@link Builder#value(double) value}: the pad value, 0 unless set (as Keras); it must fit the
 *       output dtype.</li>
 *   <li>{@link Builder#dtype(DType) dtype}: the output type, required; stored values are converted and a
 *       value that does not fit is an error, never a wrap (rules in {@code cuda/cb_convert.cuh}).</li>
 *   <li>{@link Builder#positions(boolean) positions}: also fill {@code position_ids}.</li>
 * </ul>
 */
public final class Padding {
    private final PadSide side;
    private final PadSide truncation;
    private final long maxlen;          // -1: batch longest
    private final int multiple;         // 0: none
    private final double value;
    private final DType dtype;
    private final boolean positions;

    private Padding(Builder b) {
        this.side = b.side;
        this.truncation = b.truncation;
        this.maxlen = b.maxlenSet ? b.maxlen : -1;
        this.multiple = b.multipleSet ? b.multiple : 0;
        this.value = b.value;
        this.dtype = b.dtype;
        this.positions = b.positions;
    }

    /**
     * A builder with nothing set; {@link Builder#side} and {@link Builder#dtype} are required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Where the padding goes.
     *
     * @return {@link PadSide#PRE} (before the sequence) or {@link PadSide#POST} (after it)
     */
    public PadSide side() {
        return side;
    }

    /**
     * Which end a sequence longer than maxlen loses.
     *
     * @return PRE (keep the tail) or POST (keep the head), or empty when such a sequence is an error
     */
    public Optional<PadSide> truncation() {
        return Optional.ofNullable(truncation);
    }

    /**
     * The fixed maxlen, or empty for the batch's longest.
     *
     * @return maxlen in timesteps, at least 1, or empty
     */
    public OptionalLong maxlen() {
        return maxlen < 0 ? OptionalLong.empty() : OptionalLong.of(maxlen);
    }

    /** The fixed maxlen, or -1 for the batch's longest: {@link #maxlen()} without an OptionalLong, for per-batch code. */
    long maxlenOrNegative() {
        return maxlen;
    }

    /**
     * The multiple L is rounded up to, or 0 for none.
     *
     * @return the multiple, at least 1, or 0
     */
    public int padToMultipleOf() {
        return multiple;
    }

    /**
     * The value padded positions of the data hold, before conversion to {@link #dtype()}.
     *
     * @return the pad value; 0 unless set
     */
    public double value() {
        return value;
    }

    /**
     * The output element type; stored values are converted to it.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * Whether batches also carry {@code position_ids}: int32, 0, 1, ... over each sequence's real timesteps, 0 on
     * padding.
     *
     * @return true when positions are filled
     */
    public boolean positions() {
        return positions;
    }

    /**
     * {@code L}: {@code maxlen} (or {@code longest}) rounded up to the multiple.
     *
     * @param longest the batch's longest sequence, in timesteps
     * @return the row length {@code L}, in timesteps
     * @throws CollateException when rounding up overflows 64 bits
     */
    public long outputLength(long longest) {
        long l = maxlen < 0 ? longest : maxlen;
        if (multiple > 0 && l % multiple != 0) {
            long rounded = l + (multiple - l % multiple);
            if (rounded < 0) {
                throw new CollateException("maxlen " + l + " rounded up to a multiple of " + multiple
                        + " overflows 64 bits: choose a smaller maxlen");
            }
            l = rounded;
        }
        return l;
    }

    /**
     * The truncation limit: {@code maxlen}, or {@code longest} when there is none (nothing is cut).
     *
     * @param longest the batch's longest sequence, in timesteps
     * @return the most real timesteps a row keeps
     */
    public long limit(long longest) {
        return maxlen < 0 ? longest : maxlen;
    }

    /** Collects the settings; {@link #build()} validates them. Not thread-safe. */
    public static final class Builder {
        private PadSide side;
        private PadSide truncation;
        private long maxlen;
        private boolean maxlenSet;      // unset: the batch's longest; no value of maxlen means that
        private int multiple;
        private boolean multipleSet;    // unset: no rounding
        private double value;
        private DType dtype;
        private boolean positions;

        private Builder() {
        }

        /**
         * Where the padding goes; required.
         *
         * @param side PRE (Keras' default) or POST (PyTorch, Hugging Face)
         * @return this builder
         */
        public Builder side(PadSide side) {
            this.side = side;
            return this;
        }

        /**
         * Which end a sequence longer than maxlen loses; unset, such a sequence is an error.
         *
         * @param truncation PRE keeps the tail, POST the head; null for none
         * @return this builder
         */
        public Builder truncation(PadSide truncation) {
            this.truncation = truncation;
            return this;
        }

        /**
         * A fixed length, at least 1; leave it unset to pad to the batch's longest sequence.
         *
         * @param maxlen the row length before rounding, in timesteps
         * @return this builder
         */
        public Builder maxlen(long maxlen) {
            this.maxlen = maxlen;
            this.maxlenSet = true;
            return this;
        }

        /**
         * Round L up to a multiple of this, at least 1; leave it unset not to round.
         *
         * @param multiple the multiple, in timesteps
         * @return this builder
         */
        public Builder padToMultipleOf(int multiple) {
            this.multiple = multiple;
            this.multipleSet = true;
            return this;
        }

        /**
         * The pad value, 0 unless set; it must fit the output dtype (checked when a batch is padded).
         *
         * @param value the value
         * @return this builder
         */
        public Builder value(double value) {
            this.value = value;
            return this;
        }

        /**
         * The output element type; required.
         *
         * @param dtype the dtype
         * @return this builder
         */
        public Builder dtype(DType dtype) {
            this.dtype = dtype;
            return this;
        }

        /**
         * Whether to fill {@code position_ids} too; false unless set.
         *
         * @param positions true to fill them
         * @return this builder
         */
        public Builder positions(boolean positions) {
            this.positions = positions;
            return this;
        }

        /**
         * Validates the settings and builds.
         *
         * @return the padding
         * @throws IllegalArgumentException naming the missing or invalid setting and the fix
         */
        public Padding build() {
            if (side == null) {
                throw new IllegalArgumentException("the padding side has no default: choose PRE (Keras) or"
                        + " POST (PyTorch, Hugging Face) (CLI: --padding pre|post)");
            }
            if (dtype == null) {
                throw new IllegalArgumentException("the output dtype is required (CLI: --dtype), e.g. int32 for"
                        + " token ids, float32 for features");
            }
            if (maxlenSet && maxlen < 1) {
                throw new IllegalArgumentException("maxlen " + maxlen + " is outside [1, " + Long.MAX_VALUE
                        + "]: leave it unset to pad to the batch's longest sequence (CLI: leave --maxlen out)");
            }
            if (multipleSet && multiple < 1) {
                throw new IllegalArgumentException("padToMultipleOf " + multiple + " is outside [1, "
                        + Integer.MAX_VALUE + "]: leave it unset not to round the length up (CLI: leave"
                        + " --pad-to-multiple-of out)");
            }
            return new Padding(this);
        }
    }
}
