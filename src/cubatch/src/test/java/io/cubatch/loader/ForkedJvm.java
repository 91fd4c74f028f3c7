package io.cubatch.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a test's {@code main} in a JVM of its own, for code that could crash a JVM (a SIGBUS or SIGSEGV in
 * native code): the crash becomes an exit code that fails the test, and the test suite goes on.
 */
final class ForkedJvm {
    private ForkedJvm() {
    }

    /** The exit status (134 for a JVM killed by SIGBUS/SIGSEGV's abort) and stdout and stderr together. */
    record Result(int exitCode, String output) {
    }

    static Result run(Class<?> main, long timeoutSeconds, String... args) throws IOException, InterruptedException {
        // Surefire runs tests from a manifest-only jar and passes the real class path here
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=/dev/null",
                "-cp", classPath, main.getName()));
        command.addAll(List.of(args));
        Path log = Files.createTempFile("cubatch-forked-", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError(main.getSimpleName() + " did not end within " + timeoutSeconds + " s:\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
