// The native action's main step (runs.main): the binary, checked, as APP_TOKEN_STEP=main (with APP_TOKEN_LAUNCHER).
require('./launch.js').launch('main');
