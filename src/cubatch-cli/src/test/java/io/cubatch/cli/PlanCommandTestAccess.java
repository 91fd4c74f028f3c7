package io.cubatch.cli;

/** The CLI run in-process (PlanCommandTest.run), for tests in other packages. */
public final class PlanCommandTestAccess {
    private PlanCommandTestAccess() {
    }

    /** Exit code, stdout and stderr of one CLI call. */
    public record Result(int code, String out, String err) {
    }

    public static Result run(String... args) {
        PlanCommandTest.Result r = PlanCommandTest.run(args);
        return new Result(r.code(), r.out(), r.err());
    }
}
