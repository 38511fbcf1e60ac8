export * from './app';
export * from './channels';
export * from './client';
export * from './contract';
export * from './errors';
export * from './profiles';
export * from './validation';
