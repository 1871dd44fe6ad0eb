/* worker/sapi.h */
