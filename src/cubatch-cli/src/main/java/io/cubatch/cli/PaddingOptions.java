package io.cubatch.cli;

import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The padding options, declared once (a picocli mixin, as {@link PlanOptions} is for the plan): {@code pad} and
 * {@code run} take all of them; {@code probe}, which sizes a padded batch without filling one, takes the
 * {@link Length} part (length, rounding, dtype, positions) only. The ranges are checked while parsing
 * ({@link Ranges}); what differs between the commands is only which option has a default, passed to
 * {@link #padding}.
 */
final class PaddingOptions {
    @Option(names = "--padding", paramLabel = "SIDE",
            description = "Where padding goes: pre or post. pad: required, no default (Keras pads pre;"
                    + " PyTorch, HF post); run: default post.")
    PadSide side;

    @Option(names = "--truncating", paramLabel = "SIDE",
            description = "Needed only when a sequence is longer than --maxlen: pre keeps the tail, post the head.")
    PadSide truncating;

    @Option(names = "--value", paramLabel = "V", defaultValue = "0",
            description = "Pad value; must fit --dtype (default: ${DEFAULT-VALUE}).")
    double value;

    @CommandLine.Mixin
    Length length;

    /** Length, rounding, dtype and positions: what sizes a padded batch (pad, run and probe). */
    static final class Length {
        @Option(names = "--maxlen", paramLabel = "L", converter = Ranges.Maxlen.class,
                description = "Fixed length, at least 1 (with --pack and for probe: the row length); default: the"
                        + " longest sequence (run: each batch's longest; probe: the dataset's).")
        Long maxlen;

        @Option(names = "--pad-to-multiple-of", paramLabel = "M", converter = Ranges.Multiple.class,
                description = "Round the length up to a multiple of M (at least 1); default: no rounding.")
        Integer multiple;

        @Option(names = "--dtype", paramLabel = "D", converter = DTypeConverter.class,
                description = "Output dtype: bool, int8, int16, int32, int64, uint8, uint16, float16, bfloat16,"
                        + " float32, float64. pad: required; run, probe: default int32. Values that do not fit are"
                        + " an error.")
        DType dtype;

        @Option(names = "--positions",
                description = "Also output position_ids (0, 1, ... over real tokens, 0 on padding).")
        boolean positions;

        /** --dtype, or {@code byDefault}; without either, a parse error of {@code spec}'s command. */
        DType dtype(CommandLine.Model.CommandSpec spec, DType byDefault) {
            if (dtype != null) {
                return dtype;
            }
            if (byDefault == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--dtype is required: expected "
                        + new DTypeConverter().expected() + " (e.g. int32 for token ids, float32 for features)");
            }
            return byDefault;
        }
    }

    /**
     * The padding these options describe.
     *
     * @param spec         the command, for the messages of a missing option
     * @param defaultSide  the side without --padding, or null where --padding is required
     * @param defaultDtype the dtype without --dtype, or null where --dtype is required
     * @param positions    position ids also when --positions is absent (packing needs them)
     */
    Padding padding(CommandLine.Model.CommandSpec spec, PadSide defaultSide, DType defaultDtype, boolean positions) {
        PadSide s = side != null ? side : defaultSide;
        if (s == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--padding is required: expected one of"
                    + " pre, post (no default: Keras pads pre, PyTorch and HF post)");
        }
        Padding.Builder b = Padding.builder().side(s).truncation(truncating).value(value)
                .dtype(length.dtype(spec, defaultDtype)).positions(length.positions || positions);
        if (length.maxlen != null) {
            b.maxlen(length.maxlen);
        }
        if (length.multiple != null) {
            b.padToMultipleOf(length.multiple);
        }
        return b.build();
    }

    /** {@code --dtype} by name; the message lists the names. */
    static final class DTypeConverter implements CommandLine.ITypeConverter<DType>, Ranges.Expected {
        @Override
        public String expected() {
            return "one of bool, int8, int16, int32, int64, uint8, uint16, float16, bfloat16, float32, float64";
        }

        @Override
        public DType convert(String value) {
            return DType.fromName(value).orElseThrow(() -> new CommandLine.TypeConversionException(
                    "not a dtype: expected " + expected()));
        }
    }
}
