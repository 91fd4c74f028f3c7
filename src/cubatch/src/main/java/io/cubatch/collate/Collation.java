package io.cubatch.collate;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What every backend shares: the batch geometry, argument validation (so native code only ever sees
 * checked arguments), and the error messages. Row geometry follows {@code cuda/cb_pad.cuh}.
 */
public final class Collation {
    private Collation() {
    }

    /**
     * The longest row a batch may hold: {@code lengths} and {@code position_ids} are int32 (DESIGN.md,
     * "Padding semantics"), so a row keeps at most 2^31 - 1 timesteps.
     */
    public static final long MAX_ROW_LENGTH = Integer.MAX_VALUE;

    /**
     * See {@link Collator#shape}. Computes every size of the batch, so none overflows later.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at least one
     * @param padding the padding
     * @return the padded shape, every byte count checked against 2^63
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws IllegalArgumentException when there are no indices or the samples have no features
     * @throws CollateException naming a sequence longer than maxlen without a truncation side, or a batch over 2^63
     *     bytes
     */
    public static PaddedShape shape(SampleStore store, long[] indices, Padding padding) {
        long longest = validate(store, indices, padding);
        PaddedShape shape = new PaddedShape(indices.length, outputLength(padding, longest), store.features(),
                padding.limit(longest), padding.dtype(), padding.positions());
        try {
            shape.totalBytes();
        } catch (ArithmeticException e) {
            throw new CollateException("a padded batch of " + describe(shape) + " has more than 2^63 bytes: lower"
                    + " maxlen (CLI --maxlen; unset, it is the batch's longest sequence, " + longest
                    + " timesteps here), or pad fewer samples at once");
        }
        return shape;
    }

    /**
     * {@link #shape}'s checks without the shape: validates the batch and that its padded byte total fits 64 bits,
     * allocating nothing (for per-batch code that needs another shape, as packing does); returns the longest
     * sequence.
     */
    static long validateShape(SampleStore store, long[] indices, Padding padding) {
        long longest = validate(store, indices, padding);
        try {
            long cells = Math.multiplyExact((long) indices.length, outputLength(padding, longest));
            long data = Math.multiplyExact(Math.multiplyExact(cells, store.features()), padding.dtype().byteSize());
            Math.addExact(Math.addExact(Math.addExact(data, 4L * indices.length), cells),
                    padding.positions() ? Math.multiplyExact(4L, cells) : 0);
        } catch (ArithmeticException e) {
            shape(store, indices, padding);   // throws the CollateException that names the shape
            throw new IllegalStateException("a batch whose size overflows was not refused", e);
        }
        return longest;
    }

    /** {@code padding.outputLength(longest)}, or a CollateException when rounding it up overflows. */
    private static long outputLength(Padding padding, long longest) {
        try {
            return padding.outputLength(longest);
        } catch (ArithmeticException e) {
            throw new CollateException("maxlen " + padding.limit(longest) + " rounded up to a multiple of "
                    + padding.padToMultipleOf() + " overflows 64 bits: choose a smaller maxlen");
        }
    }

    /**
     * "[B, L(, F...)] dtype (+ positions)": the shape, for messages.
     *
     * @param s the shape
     * @return the description
     */
    public static String describe(PaddedShape s) {
        return "[" + s.batch() + ", " + s.length() + (s.features() == 1 ? "" : ", " + s.features()) + "] "
                + s.dtype().cliName() + (s.positions() ? " with position_ids" : "");
    }

    /**
     * Checks the indices, the feature width and (without a truncation side) every length against maxlen;
     * returns the longest sequence of the batch. Allocates nothing.
     */
    static long validate(SampleStore store, long[] indices, Padding padding) {
        if (indices.length == 0) {
            throw new IllegalArgumentException("a batch needs at least one sample, got 0 indices");
        }
        long n = store.size();
        if (store.features() < 1) {
            throw new IllegalArgumentException("samples of " + store.source() + " have empty feature vectors"
                    + " (feature shape " + java.util.Arrays.toString(store.featureShape()) + "): nothing to pad");
        }
        // a ragged store's lengths from its offsets, read here directly: store.length checks the index again and
        // the store's volatile closed flag on every call (size() above checked it once)
        MemorySegment offs = store.isRagged() ? store.offsetsSegment() : null;
        long longest = 0;
        for (int b = 0; b < indices.length; b++) {
            long i = indices[b];   // read once: a caller changing its array meanwhile cannot slip an index past
            checkIndex(i, b, n);
            longest = Math.max(longest, offs != null
                    ? offs.get(ValueLayout.JAVA_LONG_UNALIGNED, i * 8 + 8) - offs.get(ValueLayout.JAVA_LONG_UNALIGNED, i * 8)
                    : store.length(i));
        }
        long limit = padding.limit(longest);
        if (padding.truncation().isEmpty() && longest > limit) {
            for (int b = 0; b < indices.length; b++) {
                long len = store.length(indices[b]);
                if (len > limit) {
                    throw new CollateException("sample " + indices[b] + " (batch row " + b + ") has " + len
                            + " timesteps, more than maxlen " + limit + ": choose a truncation side (truncation"
                            + " PRE keeps the tail, POST the head; CLI --truncating pre|post) or a larger maxlen");
                }
            }
        }
        if (Math.min(longest, limit) > MAX_ROW_LENGTH) {
            for (int b = 0; b < indices.length; b++) {
                long len = store.length(indices[b]);
                if (Math.min(len, limit) > MAX_ROW_LENGTH) {
                    throw new CollateException("sample " + indices[b] + " (batch row " + b + ") has " + len
                            + " timesteps, more than " + MAX_ROW_LENGTH + ", the longest row int32 lengths and"
                            + " position_ids can count: set maxlen to at most " + MAX_ROW_LENGTH + " with a truncation"
                            + " side (CLI --maxlen L --truncating pre|post)");
                }
            }
        }
        return longest;
    }

    static void checkIndex(long[] indices, int b, long n) {
        checkIndex(indices[b], b, n);
    }

    /** Sample {@code i}, asked for by batch row {@code b}, is in {@code [0, n)}, or an exception names all three. */
    static void checkIndex(long i, int b, long n) {
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("batch row " + b + " asks for sample " + i + ", outside [0, " + n + ")");
        }
    }

    /**
     * Checks that {@code out} matches the shape the same arguments give; returns that shape.
     *
     * @param store the samples
     * @param indices the batch's sample indices
     * @param padding the padding
     * @param out the caller's output
     * @return {@code out.shape()}
     * @throws IllegalArgumentException when the shapes differ, naming both; and as {@link #shape} throws
     */
    public static PaddedShape checkOutput(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        long longest = validate(store, indices, padding);
        PaddedShape o = out.shape();
        // field by field, so that the steady state allocates nothing (a PaddedShape to compare with would)
        if (o.batch() != indices.length || o.length() != outputLength(padding, longest) || o.features() != store.features()
                || o.limit() != padding.limit(longest) || o.dtype() != padding.dtype() || o.positions() != padding.positions()) {
            throw new IllegalArgumentException("output shape " + o + " does not match the batch's "
                    + shape(store, indices, padding) + ": size it with Collator.shape for the same store, indices and padding");
        }
        return o;
    }

    /**
     * Writes the pad value, converted to the output dtype, into {@code into} (at least 8 bytes).
     *
     * @param padding the padding, whose value and dtype are used
     * @param into where the value goes: one element of the output dtype at offset 0
     * @throws CollateException when the value does not fit the dtype
     */
    public static void padValue(Padding padding, MemorySegment into) {
        if (!Conversions.storeDouble(into, padding.dtype(), 0, padding.value())) {
            throw new CollateException("pad value " + padding.value() + " does not fit " + padding.dtype().cliName()
                    + range(padding.dtype()) + ": choose a value the output dtype holds");
        }
    }

    /**
     * Validates a stack request; returns the elements per sample.
     *
     * @param store the samples, fixed-shape
     * @param indices the batch's sample indices
     * @param dtype the output's element type
     * @param out the output, at least {@code indices.length x rowElems x dtype.byteSize()} bytes
     * @return the elements per sample, {@code length x features} (0 for an empty store)
     * @throws IllegalArgumentException when the store is ragged or {@code out} too small, naming both sizes
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws CollateException when the output would exceed 2^63 bytes
     */
    public static long checkStack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        if (store.isRagged()) {
            throw new IllegalArgumentException("stack needs fixed-shape samples; " + store.source()
                    + " is ragged: use pad");
        }
        long n = store.size();
        for (int b = 0; b < indices.length; b++) {
            checkIndex(indices, b, n);
        }
        long rowElems = n == 0 ? 0 : Math.multiplyExact(store.length(0), store.features());
        long bytes;
        try {
            bytes = Math.multiplyExact(Math.multiplyExact(rowElems, indices.length), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new CollateException("stacking " + indices.length + " samples of " + rowElems + " elements as "
                    + dtype.cliName() + " needs more than 2^63 bytes: stack fewer samples at once");
        }
        if (out.byteSize() < bytes) {
            throw new IllegalArgumentException("insufficient capacity: stack output needs " + bytes
                    + " bytes, segment holds " + out.byteSize());
        }
        return rowElems;
    }

    /**
     * Where row {@code b}'s real timesteps come from and go (cb_pad_geometry).
     *
     * @param first source timestep (absolute, in the store's values) of output timestep {@code start}
     * @param keep  real timesteps in the row
     * @param start output timestep of the first real one
     */
    public record Geometry(long first, long keep, long start) {
    }

    /**
     * The geometry of the row that holds {@code sample}; the sample must fit or a truncation side be set.
     *
     * @param store the samples
     * @param sample the sample's index in the store
     * @param padding the padding
     * @param shape the batch's shape ({@link #shape})
     * @return the row's source start, kept timesteps and output start
     */
    public static Geometry geometry(SampleStore store, long sample, Padding padding, PaddedShape shape) {
        long n = store.length(sample);
        long keep = keep(n, shape.limit());
        return new Geometry(store.offset(sample) + skip(n, shape.limit(), padding), keep,
                start(keep, shape.length(), padding));
    }

    /** Real timesteps of a row holding a sequence of {@code n}: the parts of {@link #geometry} as primitives,
     * for loops that must not allocate.
     *
     * @param n the sequence's length in timesteps
     * @param limit the truncation limit ({@link PaddedShape#limit()})
     * @return {@code min(n, limit)}
     */
    public static long keep(long n, long limit) {
        return Math.min(n, limit);
    }

    /**
     * Timesteps truncation removes from the head: the excess under PRE (keep the tail), else none.
     *
     * @param n the sequence's length in timesteps
     * @param limit the truncation limit
     * @param padding the padding, whose truncation side is read
     * @return {@code n - limit} when {@code n > limit} under PRE truncation, else 0
     */
    public static long skip(long n, long limit, Padding padding) {
        return n > limit && padding.truncation().orElse(null) == PadSide.PRE ? n - limit : 0;
    }

    /**
     * Output timestep of the first real one: after the padding under PRE, else 0.
     *
     * @param keep the row's real timesteps
     * @param length the output row length {@code L}
     * @param padding the padding, whose side is read
     * @return {@code length - keep} under PRE padding, else 0
     */
    public static long start(long keep, long length, Padding padding) {
        return padding.side() == PadSide.PRE ? length - keep : 0;
    }

    /**
     * The message for output element {@code flat} of a padded batch, whose value does not fit.
     *
     * @param store the samples
     * @param indices the batch's sample indices
     * @param padding the padding
     * @param shape the batch's shape
     * @param flat the element's flat index over {@code [B, L, F]}, at a real (not padded) timestep
     * @return the exception, naming the sample, row, timestep, feature, value and the dtype's range; not thrown
     */
    public static CollateException valueDoesNotFit(SampleStore store, long[] indices, Padding padding,
                                                   PaddedShape shape, long flat) {
        long f = flat % shape.features();
        long t = (flat / shape.features()) % shape.length();
        int b = (int) (flat / (shape.features() * shape.length()));
        long sample = indices[b];
        Geometry g = geometry(store, sample, padding, shape);
        long timestep = g.first() + (t - g.start());
        return new CollateException("sample " + sample + " (batch row " + b + "), timestep "
                + (timestep - store.offset(sample)) + (shape.features() > 1 ? ", feature " + f : "") + ": value "
                + Conversions.describe(store.values(), store.dtype(), timestep * shape.features() + f)
                + " does not fit " + shape.dtype().cliName() + range(shape.dtype())
                + ": choose a wider --dtype, or fix the data");
    }

    /**
     * The message for element {@code flat} of a stacked batch, whose value does not fit.
     *
     * @param store the samples
     * @param indices the batch's sample indices
     * @param dtype the output's element type
     * @param rowElems the elements per sample ({@link #checkStack})
     * @param flat the element's flat index over the output
     * @return the exception, naming the sample, row, element, value and the dtype's range; not thrown
     */
    public static CollateException stackValueDoesNotFit(SampleStore store, long[] indices, DType dtype, long rowElems,
                                                        long flat) {
        int b = (int) (flat / rowElems);
        long within = flat % rowElems;
        return new CollateException("sample " + indices[b] + " (batch row " + b + "), element " + within + ": value "
                + Conversions.describe(store.values(), store.dtype(), indices[b] * rowElems + within)
                + " does not fit " + dtype.cliName() + range(dtype) + ": choose a wider dtype, or fix the data");
    }

    static String range(DType t) {
        if (t.isFloatingPoint()) {
            return t == DType.FLOAT16 ? " (largest finite 65504)" : t == DType.BFLOAT16 ? " (largest finite ~3.39e38)"
                    : t == DType.FLOAT32 ? " (largest finite ~3.40e38)" : "";
        }
        long[] r = Conversions.intRange(t);
        return " (integers in [" + r[0] + ", " + r[1] + "])";
    }
}
