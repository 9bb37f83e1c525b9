// The native action's post step (runs.post): the binary, checked, as APP_TOKEN_STEP=post (with APP_TOKEN_LAUNCHER).
require('./launch.js').launch('post');
