//! Lints: what IAM accepts (or rejects) that is probably not what the author meant.
