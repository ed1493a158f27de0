/* The in-browser verifier (see tests); replaced by the full implementation. */
