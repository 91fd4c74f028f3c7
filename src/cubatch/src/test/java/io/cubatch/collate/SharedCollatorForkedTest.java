package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One collator used by two threads (issue 14, item 1) in a JVM of its own (SharedCollatorMain), so that a
 * crash fails this test instead of killing the suite: the misuse must be refused with an
 * IllegalStateException, never read out of bounds or write a wrong byte.
 */
class SharedCollatorForkedTest {

    @ParameterizedTest
    @ValueSource(strings = {"native", "java"})
    void twoThreadsOnOneCollatorAreRefusedNotCrashed(String backend, @TempDir Path dir)
            throws IOException, InterruptedException {
        assertRefusedNotCrashed(backend, dir);
    }

    /**
     * Runs SharedCollatorMain for {@code backend} in a JVM of its own (same java, classpath and environment:
     * under the build's emulated executions, the CUDA driver emulator), and asserts it exits 0.
     */
    static void assertRefusedNotCrashed(String backend, Path dir) throws IOException, InterruptedException {
        if (CollateTestSupport.availableBackends().stream().noneMatch(backend::equals)) {
            throw new AssertionError(backend + " is unavailable here: "
                    + Backends.all().stream().filter(b -> b.name().equals(backend)).findFirst().orElseThrow().reason());
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), SharedCollatorMain.class.getName(), "1500", backend))
                .redirectErrorStream(true);
        Process p = pb.start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the forked JVM did not finish");
        String crash = "";
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList()) {
                crash = Files.readAllLines(f).stream().limit(12).reduce("", (a, b) -> a + "\n" + b);
            }
        }
        assertEquals(0, p.exitValue(), backend + ": exit " + p.exitValue() + (crash.isEmpty() ? "" : " (a JVM crash)")
                + ":\n" + out + crash);
        assertTrue(out.startsWith("ok: "), out);
    }
}
