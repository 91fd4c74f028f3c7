package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/** The padding options are declared once (PaddingOptions) and mean the same in pad, run and probe. */
class PaddingOptionsTest {
    @TempDir
    Path dir;

    @AfterEach
    void restore() {
        PlanCommand.environment = System.getenv();
    }

    private String[] args(String command, String option, String value) throws Exception {
        Path in = dir.resolve("d.jsonl");
        Files.writeString(in, "[1, 2, 3]\n[4]\n");
        List<String> a = new ArrayList<>(List.of(command));
        switch (command) {
            case "pad" -> a.addAll(List.of("--input", in.toString(), "--padding", "post", "--dtype", "int32"));
            case "run" -> a.addAll(List.of("--input", in.toString(), "--batch-size", "2", "--format", "json"));
            default -> a.addAll(List.of("--input", in.toString()));
        }
        a.addAll(List.of(option, value));
        return a.toArray(String[]::new);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
            "pad,   --maxlen, -1,             [1, 9223372036854775807]",
            "run,   --maxlen, -1,             [1, 9223372036854775807]",
            "probe, --maxlen, -1,             [1, 9223372036854775807]",
            "pad,   --maxlen, 0,              [1, 9223372036854775807]",
            "run,   --maxlen, 0,              [1, 9223372036854775807]",
            "pad,   --pad-to-multiple-of, 0,  [1, 2147483647]",
            "run,   --pad-to-multiple-of, 0,  [1, 2147483647]",
            "probe, --pad-to-multiple-of, 0,  [1, 2147483647]",
            "run,   --pad-to-multiple-of, -8, [1, 2147483647]",
            "run,   --dtype, int33,           one of bool, int8",
            "probe, --dtype, int33,           one of bool, int8",
    })
    void everyCommandRefusesTheSameValuesTheSameWay(String command, String option, String value, String range)
            throws Exception {
        PlanCommand.environment = Map.of();
        PlanCommandTest.Result r = run(args(command, option, value));
        assertEquals(2, r.code(), command + " " + option + " " + value + " -> " + r.out() + r.err());
        assertEquals("", r.out());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("cubatch " + command + ": " + option + " " + value + ": "), err);
        assertTrue(err.contains(range), err);
    }

    @Test
    void maxlenMinusOneNamesTheFix() throws Exception {
        PlanCommandTest.Result r = run(args("pad", "--maxlen", "-1"));
        assertTrue(r.err().contains("leave --maxlen out to pad to the longest sequence"), r.err());
    }

    @Test
    void padRunAndProbeTakeTheOptionsFromTheOneMixin() {
        CommandLine cli = new CommandLine(new Main());
        for (String command : List.of("pad", "run", "probe")) {
            CommandLine.Model.CommandSpec spec = cli.getSubcommands().get(command).getCommandSpec();
            assertTrue(usesMixin(spec, PaddingOptions.Length.class), command + " does not use PaddingOptions.Length");
            for (String option : List.of("--maxlen", "--pad-to-multiple-of", "--dtype", "--positions")) {
                assertTrue(spec.findOption(option) != null, command + " lacks " + option);
            }
        }
        for (String command : List.of("pad", "run")) {
            assertTrue(usesMixin(cli.getSubcommands().get(command).getCommandSpec(), PaddingOptions.class), command);
        }
    }

    private static boolean usesMixin(CommandLine.Model.CommandSpec spec, Class<?> type) {
        for (CommandLine.Model.CommandSpec m : spec.mixins().values()) {
            if (type.isInstance(m.userObject()) || usesMixin(m, type)) {
                return true;
            }
        }
        return false;
    }
}
