package io.cubatch.collate;

import java.util.Locale;

/**
 * Which end of a sequence padding goes on, or which end truncation cuts. There is no default: Keras pads
 * and truncates {@code PRE}, PyTorch and Hugging Face pad {@code POST}.
 *
 * <table class="striped">
 *   <caption>sequences [1] [1,2] [1,2,3], pad value 0</caption>
 *   <thead><tr><th>padding</th><th>truncation</th><th>maxlen</th><th>result</th></tr></thead>
 *   <tbody>
 *   <tr><td>{@code PRE}</td><td>-</td><td>3</td><td>[0,0,1] [0,1,2] [1,2,3]</td></tr>
 *   <tr><td>{@code POST}</td><td>-</td><td>3</td><td>[1,0,0] [1,2,0] [1,2,3]</td></tr>
 *   <tr><td>{@code PRE}</td><td>{@code PRE} (keeps the tail)</td><td>2</td><td>[0,1] [1,2] [2,3]</td></tr>
 *   <tr><td>{@code PRE}</td><td>{@code POST} (keeps the head)</td><td>2</td><td>[0,1] [1,2] [1,2]</td></tr>
 *   </tbody>
 * </table>
 * These are Keras's own {@code pad_sequences} test cases; {@code KerasPadSequencesTest} asserts them.
 */
public enum PadSide {
    /** Padding before the tokens (left); truncation removes the head and keeps the tail. */
    PRE,
    /** Padding after the tokens (right); truncation removes the tail and keeps the head. */
    POST;

    /**
     * The lower-case name used by the CLI.
     *
     * @return {@code pre} or {@code post}
     */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
