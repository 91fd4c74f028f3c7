package io.cubatch.plan;

/**
 * A batch plan cannot be built from the given numbers. The message names the values, the valid range
 * and the fix; the CLI prints it as is and exits with status 2.
 */
public class PlanException extends IllegalArgumentException {
    /**
     * A plan error with its explanation.
     *
     * @param message what is wrong, the valid range and the fix
     */
    public PlanException(String message) {
        super(message);
    }
}
