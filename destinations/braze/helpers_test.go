package braze_test

const testKey = "braze-rest-key-5f0c2a"
