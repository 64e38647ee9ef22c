// autocannon ships no types; bench/ uses a few of its options and result fields.
declare module "autocannon";
