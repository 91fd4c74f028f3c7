package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A parse error is one line on stderr: {@code cubatch CMD: <option> <value>: <what is wrong, valid range>; see
 * cubatch CMD --help}, exit 2, nothing on stdout, no usage dump.
 */
class ParseErrorTest {
    @TempDir
    static Path dir;

    @BeforeEach
    void data() throws Exception {
        Files.writeString(dir.resolve("d.jsonl"), "[1, 2]\n[3]\n");
        PlanCommand.environment = Map.of();
    }

    @AfterEach
    void restore() {
        PlanCommand.environment = System.getenv();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            plan --samples abc --batch-size 1                        | cubatch plan: --samples abc:        | an integer in [1, 9223372036854775807]
            plan --samples 10 --batch-size x                         | cubatch plan: --batch-size x:       | an integer in [1, 2147483647]
            plan --samples 10 --batch-size 99999999999               | cubatch plan: --batch-size 99999999999: | an integer in [1, 2147483647]
            plan --samples 10 --batch-size 1 --world-size 0          | cubatch plan: --world-size 0:       | an integer in [1, 2147483647]
            plan --samples 10 --batch-size 1 --remainder sideways    | cubatch plan: --remainder sideways: | one of pad, drop, partial
            plan --samples 10 --batch-size 1 --seed 1e3 --shuffle   | cubatch plan: --seed 1e3:           | an integer in [-9223372036854775808, 9223372036854775807]
            plan --samples 10 --batch-size 1 --frobnicate            | cubatch plan: --frobnicate:         | unknown option
            plan --samples 10 --batch-size 1 extra                   | cubatch plan: extra:                | unexpected argument
            plan --batch-size 1                                      | cubatch plan: --samples             | required
            plan --samples                                           | cubatch plan: --samples             | needs a value
            plan --samples 10 --samples 20 --batch-size 1            | cubatch plan: --samples 20:         | once
            pad --input IN --padding sideways --dtype int32          | cubatch pad: --padding sideways:    | one of pre, post
            pad --input IN --padding pre --dtype int33               | cubatch pad: --dtype int33:         | one of bool, int8, int16, int32
            pad --input IN --padding pre --dtype int32 --maxlen 1.5  | cubatch pad: --maxlen 1.5:          | an integer in [1, 9223372036854775807]
            pad --input IN --padding pre --dtype int32 --value abc   | cubatch pad: --value abc:           | a number
            pad --input IN --padding pre --dtype int32 --format xml  | cubatch pad: --format xml:          | one of json, npy
            run --input IN --batch-size 1 --prefetch many            | cubatch run: --prefetch many:       | an integer in [1, 2147483647]
            run --input IN --batch-size 1 --epochs 0                 | cubatch run: --epochs 0:            | an integer in [1, 2147483647]
            probe --margin lots                                      | cubatch probe: --margin lots:       | a number in [0, 0.9]
            probe --step walk                                        | cubatch probe: --step walk:         | one of linear, none
            info --format xml                                        | cubatch info: --format xml:         | one of text, json
            bench --output                                           | cubatch bench: --output             | needs a value
            nosuchcommand                                            | cubatch: nosuchcommand:             | unknown command
            """)
    void oneLineNamingOptionValueAndRange(String line, String prefix, String detail) {
        String[] args = line.trim().replace("IN", dir.resolve("d.jsonl").toString()).split("\\s+");
        PlanCommandTest.Result r = run(args);
        assertEquals(2, r.code(), line + " -> " + r.err());
        assertEquals("", r.out(), line);
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), "one line expected:\n" + r.err());
        assertTrue(err.startsWith(prefix.strip()), err);
        assertTrue(err.contains(detail.strip()), err);
        String command = prefix.strip().substring(0, prefix.strip().indexOf(':'));
        assertTrue(err.endsWith("; see " + command + " --help"), err);
    }

    @org.junit.jupiter.api.Test
    void noCommandIsOneLine() {
        PlanCommandTest.Result r = run();
        assertEquals(2, r.code());
        assertEquals("cubatch: a command is required: run, plan, pad, info, bench or probe; see cubatch --help",
                r.err().strip());
    }

    @org.junit.jupiter.api.Test
    void helpIsStillTheFullUsage() {
        PlanCommandTest.Result r = run("plan", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().lines().count() > 10, r.out());
    }
}
