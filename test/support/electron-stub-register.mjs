// `node --import ./electron-stub-register.mjs main.js`: installs electron-stub-loader.mjs.
import { register } from 'node:module';
register('./electron-stub-loader.mjs', import.meta.url);
