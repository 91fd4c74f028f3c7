package io.cubatch.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The valid values of the numeric options, declared at each option ({@code converter = Ranges.X.class}): a
 * value outside its range is refused while parsing, before any work, and the one-line message (see
 * {@link ParseErrors}) says what the option takes. Integers are decimal ({@code 0x10} and {@code 1e3} are
 * refused, as they are in a batch size).
 */
final class Ranges {
    private Ranges() {
    }

    /** What an option takes, in words, for messages; implemented by the converters below. */
    interface Expected {
        String expected();
    }

    /** An integer option within {@code [min, max]}. */
    abstract static class IntegerRange implements Expected {
        private final long min;
        private final long max;
        private final String hint;

        IntegerRange(long min, long max, String hint) {
            this.min = min;
            this.max = max;
            this.hint = hint;
        }

        @Override
        public String expected() {
            return "an integer in [" + min + ", " + max + "]";
        }

        long parse(String value) {
            String v = value.strip();
            if (!v.matches("[-+]?[0-9]+")) {
                throw new TypeConversionException("not an integer: expected " + expected() + hint);
            }
            BigInteger x = new BigInteger(v);
            if (x.compareTo(BigInteger.valueOf(min)) < 0 || x.compareTo(BigInteger.valueOf(max)) > 0) {
                throw new TypeConversionException("out of range: expected " + expected() + hint);
            }
            return x.longValueExact();
        }
    }

    abstract static class IntRange extends IntegerRange implements ITypeConverter<Integer> {
        IntRange(int min, String hint) {
            super(min, Integer.MAX_VALUE, hint);
        }

        @Override
        public Integer convert(String value) {
            return (int) parse(value);
        }
    }

    abstract static class LongRange extends IntegerRange implements ITypeConverter<Long> {
        LongRange(long min, String hint) {
            super(min, Long.MAX_VALUE, hint);
        }

        @Override
        public Long convert(String value) {
            return parse(value);
        }
    }

    /** A count that must be at least 1 (batch size, world size, epochs, prefetch slots, workers, ...). */
    static final class Positive extends IntRange {
        Positive() {
            super(1, "");
        }
    }

    /** An index or a count that may be 0 (a rank, a device, --bucket 0 for off). */
    static final class NonNegative extends IntRange {
        NonNegative() {
            super(0, "");
        }
    }

    /** A 64-bit count that must be at least 1 (samples, a global batch size, a batch size limit). */
    static final class PositiveLong extends LongRange {
        PositiveLong() {
            super(1, "");
        }
    }

    /** A 64-bit position that may be 0 (an epoch, a resume point). */
    static final class NonNegativeLong extends LongRange {
        NonNegativeLong() {
            super(0, "");
        }
    }

    /** {@code --maxlen}: there is no "no maxlen" value (Keras's {@code maxlen=None} is leaving it out). */
    static final class Maxlen extends LongRange {
        Maxlen() {
            super(1, "; leave --maxlen out to pad to the longest sequence");
        }
    }

    /** {@code --pad-to-multiple-of}: 0 is not "none"; leaving it out is. */
    static final class Multiple extends IntRange {
        Multiple() {
            super(1, "; leave --pad-to-multiple-of out not to round the length up");
        }
    }

    /** {@code --margin}: the fraction of GPU memory kept free, a number in [0, 0.9]. */
    static final class Margin implements ITypeConverter<Double>, Expected {
        @Override
        public String expected() {
            return "a number in [0, 0.9] (the fraction of GPU memory kept free)";
        }

        @Override
        public Double convert(String value) {
            BigDecimal d;
            try {
                d = new BigDecimal(value.strip());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("not a number: expected " + expected());
            }
            if (d.signum() < 0 || d.compareTo(new BigDecimal("0.9")) > 0) {
                throw new TypeConversionException("out of range: expected " + expected());
            }
            return d.doubleValue();
        }
    }
}
