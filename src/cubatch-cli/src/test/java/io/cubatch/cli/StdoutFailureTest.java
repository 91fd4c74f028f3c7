package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A write to standard output that fails is exit code 1 with one line on stderr, and the work stops at once: a
 * plan of 10^12 batches must not keep computing after its reader is gone.
 */
class StdoutFailureTest {
    /** An output stream that fails every write, as /dev/full does, counting the attempts. */
    private static final class Full extends OutputStream {
        final AtomicInteger attempts = new AtomicInteger();

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            attempts.incrementAndGet();
            throw new IOException("No space left on device");
        }
    }

    private static final String[] ENDLESS_PLAN = {"plan", "--samples", "1000000000000", "--batch-size", "1",
            "--format", "json"};

    private static void assertOneLine(String err, String reason) {
        assertEquals(1, err.strip().lines().count(), err);
        assertTrue(err.contains("cannot write to standard output (" + reason + ")"), err);
        assertFalse(err.contains("\tat "), err);
    }

    @Test
    void aFailingStdoutStopsThePlanAtOnceWithExitOne() {
        Full full = new Full();
        StringWriter err = new StringWriter();
        int code = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> Main.execute(ENDLESS_PLAN,
                Stdout.of(full, StandardCharsets.UTF_8), new PrintWriter(err, true)));
        assertEquals(1, code);
        assertOneLine(err.toString(), "No space left on device");
        assertTrue(err.toString().startsWith("cubatch plan: "), err.toString());
        assertTrue(full.attempts.get() <= 2, full.attempts + " writes attempted after the first failure");
    }

    @Test
    void aPrintWriterThatSwallowsItsErrorIsStillExitOne() {
        StringWriter err = new StringWriter();
        PrintWriter swallowing = new PrintWriter(new OutputStreamWriter(new Full(), StandardCharsets.UTF_8), true);
        int code = Main.execute(new String[] {"plan", "--samples", "100", "--batch-size", "1"}, swallowing,
                new PrintWriter(err, true));
        assertEquals(1, code, err.toString());
        assertTrue(err.toString().contains("cannot write to standard output"), err.toString());
    }

    @Test
    void helpAndVersionToAFailingStdoutAreOneLineNotAStackTrace() {
        for (String[] args : List.of(new String[] {"plan", "--help"}, new String[] {"--version"})) {
            StringWriter err = new StringWriter();
            int code = Main.execute(args, Stdout.of(new Full(), StandardCharsets.UTF_8), new PrintWriter(err, true));
            assertEquals(1, code, err.toString());
            assertOneLine(err.toString(), "No space left on device");
        }
    }

    private static List<String> java(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** A real pipe whose reader closes it after 4 KiB, as {@code | head -c 4096} does. */
    @Test
    void aClosedPipeStopsThePlanProcessAtOnce() throws Exception {
        Path errFile = Files.createTempFile("cubatch-stderr", ".txt");
        try {
            Process p = new ProcessBuilder(java(ENDLESS_PLAN)).redirectError(errFile.toFile()).start();
            try (InputStream in = p.getInputStream()) {
                assertEquals(4096, in.readNBytes(4096).length, "the plan printed something first");
            }                                            // the reader is gone
            boolean exited = p.waitFor(60, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
            }
            assertTrue(exited, "the plan kept computing after its reader closed the pipe");
            String err = Files.readString(errFile);
            assertEquals(1, p.exitValue(), err);
            assertOneLine(err, "Broken pipe");
        } finally {
            Files.deleteIfExists(errFile);
        }
    }

    @Test
    void aFullDeviceIsExitOneInAProcess() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/full")), "/dev/full");
        Path errFile = Files.createTempFile("cubatch-stderr", ".txt");
        try {
            Process p = new ProcessBuilder(java("plan", "--samples", "100", "--batch-size", "1"))
                    .redirectOutput(new File("/dev/full")).redirectError(errFile.toFile()).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            String err = Files.readString(errFile);
            assertEquals(1, p.exitValue(), err);
            assertOneLine(err, "No space left on device");
        } finally {
            Files.deleteIfExists(errFile);
        }
    }
}
