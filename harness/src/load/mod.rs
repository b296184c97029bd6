//! `allocstorm load`: the multi-process hot-key client. (Being written.)
